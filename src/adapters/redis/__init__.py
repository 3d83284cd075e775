"""Redis: cache, rate limits, fan-out and the job broker."""
