"""The registry: key accounts (CSV checks and import, listing, defections, the team
around each account) and our staff.

Outside this area, import from the package (its public API, listed here);
inside it, import from the module.
"""

from __future__ import annotations

from survey.registry.account_csv import ACCOUNT_COLUMNS, parse_revenue
from survey.registry.account_import import (
    MAX_UPSERT,
    AccountItemsError,
    UpsertReport,
    import_accounts_csv,
    upsert_accounts,
)
from survey.registry.account_search import (
    MAX_SEARCH_LENGTH,
    AccountChoices,
    AccountFilter,
    account_conditions,
    account_filter_choices,
    clean_search,
)
from survey.registry.account_team import (
    TEAM_COLUMNS,
    TeamImportReport,
    TeamMemberView,
    import_account_team_csv,
    teams_of_accounts,
)
from survey.registry.accounts import get_account, get_account_details, list_accounts
from survey.registry.contact_csv import CONTACT_CSV_COLUMNS
from survey.registry.contact_import import ContactImportReport, import_contacts_csv
from survey.registry.defections import record_defection
from survey.registry.lookups import (
    account_by_id,
    account_page,
    accounts_by_ids,
    contacts_by_ids,
    contacts_of_accounts,
    defection_with_account,
    defections_of_accounts,
)
from survey.registry.staff import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    AuthenticatedToken,
    TokenHolder,
    add_staff,
    authenticate,
    authenticate_password,
    authenticate_token,
    ensure_staff_token,
    get_active_staff,
    issue_token,
    list_staff,
    list_tokens,
    record_token_use,
    revoke_staff,
    role_at_least,
    set_password,
    set_staff_locale,
)
from survey.registry.webhook_events import (
    account_block,
    emit_health_changed,
    emit_health_changes,
    emit_tier_changed,
)

__all__ = [
    "ACCOUNT_COLUMNS",
    "CONTACT_CSV_COLUMNS",
    "MAX_PASSWORD_LENGTH",
    "MAX_SEARCH_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "TEAM_COLUMNS",
    "AccountChoices",
    "AccountFilter",
    "AuthenticatedToken",
    "ContactImportReport",
    "TeamImportReport",
    "TeamMemberView",
    "TokenHolder",
    "account_by_id",
    "account_conditions",
    "account_filter_choices",
    "account_page",
    "accounts_by_ids",
    "add_staff",
    "authenticate",
    "authenticate_password",
    "authenticate_token",
    "clean_search",
    "contacts_by_ids",
    "contacts_of_accounts",
    "defection_with_account",
    "defections_of_accounts",
    "ensure_staff_token",
    "get_account",
    "get_account_details",
    "get_active_staff",
    "import_account_team_csv",
    "import_accounts_csv",
    "import_contacts_csv",
    "issue_token",
    "list_accounts",
    "list_staff",
    "list_tokens",
    "parse_revenue",
    "record_defection",
    "record_token_use",
    "revoke_staff",
    "role_at_least",
    "set_password",
    "set_staff_locale",
    "teams_of_accounts",
]
# Webhook events the registry's callers emit (tier changes, health bands).
__all__ += ["account_block", "emit_health_changed", "emit_health_changes", "emit_tier_changed"]
# Account sync from a CRM (the API's upsertAccounts), with the CSV import's checks.
__all__ += ["MAX_UPSERT", "AccountItemsError", "UpsertReport", "upsert_accounts"]
