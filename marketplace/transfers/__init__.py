"""Jobs for big work: task imports from a file or URL and result exports, with progress and resumable downloads."""
