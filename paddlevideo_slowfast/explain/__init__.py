"""What the model looks at: Grad-CAM per SlowFast pathway, heat-map videos and strips, box-mass measurement."""
