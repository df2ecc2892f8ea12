"""An annotator's feed: what happened to their work (rejections, missed gold, disputes, bonuses), newest first."""
