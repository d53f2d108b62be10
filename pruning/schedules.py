"""Density schedules (plain functions). k is the final density, 1 − sparsity.

exponential (pre-pruning, iteration i of T):  d_i = k^(i/T)
cubic (during fine-tuning, Zhu & Gupta):      d(t) = 1                                 t < t_i
                                              d(t) = k + (1 − k)(1 − (t − t_i)/N_p)^3  t_i ≤ t < t_i + N_p
                                              d(t) = k                                 afterwards
"""


def exponential_density(i: int, total: int, final_density: float) -> float:
    return final_density ** (i / total)


def cubic_density(step: int, final_density: float, start: int, duration: int) -> float:
    if step < start:
        return 1.0
    if step >= start + duration:
        return final_density
    return final_density + (1.0 - final_density) * (1.0 - (step - start) / duration) ** 3
