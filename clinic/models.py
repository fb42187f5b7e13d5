"""Every model module, imported together.

Relationships name their targets by string, so a mapper can only be configured
once every model class exists; the app factory, migrations and scripts import
this module rather than relying on whichever blueprint happened to load first.
"""

from clinic.audit import models as audit_models  # noqa: F401
from clinic.auth import models as auth_models  # noqa: F401
from clinic.inventory import models as inventory_models  # noqa: F401
from clinic.records.catalogue import models as catalogue_models  # noqa: F401
from clinic.records.consent import models as consent_models  # noqa: F401
from clinic.records.outcomes import models as outcome_models  # noqa: F401
from clinic.records.patients import models as patient_models  # noqa: F401
from clinic.records.photos import models as photo_models  # noqa: F401
from clinic.records.screening import models as screening_models  # noqa: F401
from clinic.records.treatments import models as treatment_models  # noqa: F401
from clinic.reports import models as report_models  # noqa: F401
from clinic.tracing import models as tracing_models  # noqa: F401
