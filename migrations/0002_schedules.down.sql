DROP TABLE backtick_schedules;
