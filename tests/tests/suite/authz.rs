//! Authorization matrix (being written).
