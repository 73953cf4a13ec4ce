"""The labelling page behind `classifier/label_images.py`: the web app, the photo queue, the
decision log and its export, thumbnails, and the page's static files."""
