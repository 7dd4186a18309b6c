"""Non-normal dynamics of a recurrent matrix: Henrici's departure from normality, transient
growth and the chain-motif profile (Orhan & Pitkow 2020)."""
from .measures import henrici as henrici
from .measures import nonnormality as nonnormality
from .transient import transient_growth as transient_growth
