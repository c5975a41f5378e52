"""What `export.py` can write, with no torch, so its schema (`fusion.config.schemas.ExportConfig`) reads
without loading the exporter (`fusion.export.write`)."""

#: Each format's file suffix.
FORMATS = {"onnx": ".onnx", "torchscript": ".pt"}
#: The lowest opset torch's ONNX exporter writes without converting down (and the default).
OPSET = 18
