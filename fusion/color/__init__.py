"""Color harmonisation learned per model: random grades, the image-adaptive 3D LUT's training, color error."""
