"""`mmprep train`: the training loop (loop), the loss of a batch (objective), the configuration and its options
(config, options_table), how a saved configuration of an older version is read (migrations), what is built from
it (setup, backbone, optim), the run directory and its checkpoints (run_dir, checkpoint), and what is logged
(curves, diagnostics). Imports nothing: `mmprep`'s options read ``config`` without loading torch."""
