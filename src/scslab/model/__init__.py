"""The model of docs/model.md: parameters, state and the daily phases."""
