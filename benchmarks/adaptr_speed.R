# adaptr's own speed on the two adaptr-style controlled designs of bench_adaptr_control.py.
#
#   Rscript benchmarks/adaptr_speed.R [N_TRIALS [REPEATS]]     (defaults 1000 and 3)
#
# Needs the adaptr R package (not on Debian; see bench_adaptr_control.py for how it was installed
# here). Each design is set up exactly as the header of its scenario YAML says
# (scenarios/validation/adaptr_joss_control.yaml, adaptr_tests_futility.yaml), warmed up with a
# few trials, then run_trials(cores = 1) is timed REPEATS times. Prints, per design, the median
# trials per wall-clock second and per CPU-second of this R process (proc.time user + system:
# the speed of one core whatever else the machine is doing), one "RESULT" line each for
# bench_adaptr_control.py to read.

suppressPackageStartupMessages(library(adaptr))

args <- commandArgs(trailingOnly = TRUE)
n_trials <- if (length(args) >= 1) as.integer(args[1]) else 1000L
repeats <- if (length(args) >= 2) as.integer(args[2]) else 3L
if (is.na(n_trials) || n_trials < 1 || is.na(repeats) || repeats < 1) {
  stop("usage: Rscript benchmarks/adaptr_speed.R [N_TRIALS >= 1 [REPEATS >= 1]]", call. = FALSE)
}

designs <- list(
  # adaptr's JOSS paper (Granholm et al. 2022), base seed 202204
  adaptr_joss_control = list(seed = 202204, spec = function() setup_trial_binom(
    arms = c("Control", "Experimental A", "Experimental B", "Experimental C"),
    true_ys = c(0.25, 0.30, 0.22, 0.19), data_looks = seq(400, 2000, by = 100),
    control = "Control", control_prob_fixed = "sqrt-based", superiority = 0.99, inferiority = 0.01,
    equivalence_prob = 0.85, equivalence_diff = 0.05, equivalence_only_first = TRUE, soften_power = 0.5)),
  # adaptr's own test design with a common control, equivalence and futility, base seed 12345
  adaptr_tests_futility = list(seed = 12345, spec = function() setup_trial_binom(
    arms = c("A", "B", "C"), control = "B", true_ys = c(0.25, 0.20, 0.30),
    min_probs = rep(0.15, 3), data_looks = seq(300, 2000, by = 100), equivalence_prob = 0.9,
    equivalence_diff = 0.05, equivalence_only_first = FALSE, futility_prob = 0.95, futility_diff = 0.05,
    futility_only_first = FALSE, soften_power = 0.5, highest_is_best = TRUE))
)

cat(sprintf("adaptr %s on %s, %d trials x %d repeats, cores = 1\n",
            as.character(packageVersion("adaptr")), R.version.string, n_trials, repeats))

for (name in names(designs)) {
  design <- designs[[name]]
  spec <- design$spec()
  run_trials(spec, n_rep = min(20L, n_trials), cores = 1, base_seed = design$seed)  # warm-up
  wall <- cpu <- numeric(repeats)
  for (r in seq_len(repeats)) {
    began <- proc.time()
    run_trials(spec, n_rep = n_trials, cores = 1, base_seed = design$seed)
    used <- proc.time() - began
    wall[r] <- used[["elapsed"]]
    cpu[r] <- used[["user.self"]] + used[["sys.self"]]
  }
  cat(sprintf("RESULT %s trials_per_second=%.3f trials_per_cpu_second=%.3f wall_s=%s cpu_s=%s\n",
              name, n_trials / median(wall), n_trials / median(cpu),
              paste(sprintf("%.2f", wall), collapse = ","), paste(sprintf("%.2f", cpu), collapse = ",")))
}
