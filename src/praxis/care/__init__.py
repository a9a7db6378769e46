"""Care management: CCM, PCM and RPM enrolment, consent, time tracking and the monthly billing rules."""
