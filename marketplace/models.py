"""Every feature's tables, imported in one place so the metadata (and Alembic) sees them all."""
from marketplace.accounts import models as accounts  # noqa: F401
from marketplace.assignments import models as assignments  # noqa: F401
from marketplace.projects import models as projects  # noqa: F401
from marketplace.qualifications import models as qualifications  # noqa: F401
from marketplace.quality import models as quality  # noqa: F401
from marketplace.results import models as results  # noqa: F401
from marketplace.reviews import models as reviews  # noqa: F401
from marketplace.tasks import models as tasks  # noqa: F401
from marketplace.webhooks import models as webhooks  # noqa: F401
from marketplace.audit import models as audit  # noqa: F401
from marketplace.disputes import models as disputes  # noqa: F401
from marketplace.ledger import models as ledger  # noqa: F401
from marketplace.payments import models as payments  # noqa: F401
from marketplace.approvals import models as approvals  # noqa: F401
from marketplace.idempotency import models as idempotency  # noqa: F401
from marketplace.transfers import models as transfers  # noqa: F401
from marketplace.questions import models as questions  # noqa: F401
