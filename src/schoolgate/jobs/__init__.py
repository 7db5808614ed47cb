"""Background jobs an admin starts and watches: progress, cancel and resume, reports, notifications."""
