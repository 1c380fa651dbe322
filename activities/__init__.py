"""The side effects the engagement workflow asks for, run by the worker: appending its events to the
log (``eventlog_activities``). Each is thin: the work is done by the application's services."""
