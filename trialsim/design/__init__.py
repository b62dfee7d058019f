"""Trial designs: state, look schedules, observed statistics, allocation, decisions and look loops."""
