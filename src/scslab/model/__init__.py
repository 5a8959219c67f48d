"""The model of MODEL.md: parameters, state and the daily phases."""
