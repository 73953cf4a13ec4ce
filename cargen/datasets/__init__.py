"""Real photo collections: The Car Connection's file names, duplicate finding and preparation
(behind `data/prepare_car_connection.py`), and view labels from published pose annotations
(behind `data/import_pose_labels.py`)."""
