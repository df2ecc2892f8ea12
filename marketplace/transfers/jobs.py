"""The jobs the transfers feature runs: one per import or export, and the sweeps that keep them honest."""
from marketplace.queue import MAINTENANCE, TRANSFERS, Job

RUN_IMPORT = Job("workers.transfers.run_import", TRANSFERS, debounce=True)
RUN_EXPORT = Job("workers.transfers.run_export", TRANSFERS, debounce=True)
# Re-enqueue transfers whose job was lost (a worker killed mid-run, a queue flushed).
SWEEP_TRANSFERS = Job("workers.transfers.sweep_transfers", MAINTENANCE, interval_s=60)
PURGE_TRANSFERS = Job("workers.transfers.purge_transfers", MAINTENANCE, interval_s=3600)
