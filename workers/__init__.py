"""RQ job functions: each a thin call into a feature's services, wrapped by workers.context.job."""
