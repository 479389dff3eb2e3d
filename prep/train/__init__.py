"""`mmprep train`: the training loop (loop), the loss of a batch (objective), the configuration and its options
(config, options_table), what is built from it (setup, backbone, optim), the run directory and its checkpoints
(run_dir, checkpoint), and what is logged (curves, diagnostics). Imports nothing: `mmprep`'s options read
``config`` without loading torch."""
