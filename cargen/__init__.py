"""The cargen core every script imports: views, images and their aspect, tf.data input, the
command-line helpers and errors, the resume check of run options, kill-safe files and the move
journal, labelled sets, contact sheets, and the dataset makers behind `data/` (the synthetic
renderer, The Car Connection tools)."""
