"""The admin console: account manager, person pages, sync, generation, doctor, notifications, audit, dashboard."""
