"""The occlusion-aware face matte, learned semi-supervised: synthetic occluders, painted mattes, the EMA teacher."""
