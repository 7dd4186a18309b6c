"""Memory of a driven network: the sensitivity kernel, Jaeger's linear memory capacity and the
Fisher memory curve of the linearisation."""
from .capacity import memory_capacity as memory_capacity
from .fisher import fisher_memory_curve as fisher_memory_curve
from .kernel import memory_kernel as memory_kernel
