"""Small helpers with no MMPose dependency: atomic file writes, command-line guards."""
