"""The paper's numbers (MIMAMO Net, AAAI 2020, Tables 3-5) and what its Figure 5 shows, as data.

CCC values are copied from the paper. Table 3 is the temporal stream alone on OMG (5-fold
cross-validation); Tables 4 (OMG) and 5 (Aff-Wild) are the stream ablation, the spatial stream on
VGGFace2/FER+ ResNet50 features. Figure 5 has no printed numbers: only its description is kept.
"""

# Table 3: number of phase-difference images L -> (arousal, valence), temporal stream, OMG, 5 folds.
TABLE3_OMG_LENGTH = {4: (0.151, 0.048), 8: (0.183, 0.091), 12: (0.212, 0.151), 16: (0.191, 0.092)}

# Tables 4 (OMG) and 5 (Aff-Wild): (spatial, temporal) -> (arousal, valence). spatial: "features"
# (the paper's ResNet50) or "none"; temporal: phase_difference ("Δ Phase"), phase, optical_flow, none.
TABLE4_OMG_STREAMS = {
    ("features", "phase_difference"): (0.377, 0.529),
    ("features", "phase"): (0.373, 0.503),
    ("features", "optical_flow"): (0.364, 0.512),
    ("features", "none"): (0.312, 0.508),
    ("none", "phase_difference"): (0.193, 0.153),
    ("none", "phase"): (0.178, 0.235),
    ("none", "optical_flow"): (0.136, 0.145),
}
TABLE5_AFFWILD_STREAMS = {
    ("features", "phase_difference"): (0.521, 0.580),
    ("features", "phase"): (0.516, 0.523),
    ("features", "optical_flow"): (0.442, 0.578),
    ("features", "none"): (0.411, 0.514),
    ("none", "phase_difference"): (0.176, 0.107),
    ("none", "phase"): (0.118, 0.135),
    ("none", "optical_flow"): (0.124, 0.058),
}

FIGURE5_OMG_ILLUMINATION = (
    "Figure 5 (OMG, temporal stream only, no numbers printed): as beta grows, the CCC of phase "
    "differences changes slowly while that of optical flow drops drastically.")

# The paper's speed remark (Temporal Stream Inputs): at 224x224, GPU Brox optical flow of a frame
# pair takes ~0.1 s; the complex steerable pyramid is ~10x faster.
SPEED_REMARK = ("Paper (GPU, 224x224): Brox optical flow ~0.1 s per frame pair; the complex steerable "
                "pyramid ~10x faster.")

TEMPORAL_NAMES = {"phase_difference": "Δ phase (phase differences)", "phase": "phase",
                  "optical_flow": "optical flow", "phase_difference_paper": "Δ phase, the paper's order",
                  "none": "none"}
