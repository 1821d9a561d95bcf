//! Maps rollout revisions to the git commits that produced them.
