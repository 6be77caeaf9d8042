"""Deploy networks onto emulated neuromorphic chips: profiles (network/chips/profiles/, named in
registry.py), quantisation, mapping onto cores, bit-accurate emulation and energy per inference.

    from network.chips.deploy import deploy
    d = deploy(network, "loihi")          # MappingError if it does not fit
    inf = d.infer(raster)                 # raster [steps, n_inputs]
    report = d.energy_report(inf.counts)  # J per inference, breakdown, latency, CPU/GPU refs
"""
