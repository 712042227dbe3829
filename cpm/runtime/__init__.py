"""What training and evaluation both run on: device and precision, loaders, frozen-encoder features,
checkpoint files (reading, atomic writing, DDP / torch.compile unwrapping) and the metrics.jsonl format.

Layering: config <- models <- data <- runtime <- train / eval <- api <- CLIs. Nothing here imports
`cpm.train` or `cpm.eval`.
"""
