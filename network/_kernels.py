"""The Numba step loop of a Network: every population and projection flattened into arrays.

Neurons of all populations share one global index space (population p owns
pop_offset[p] .. pop_offset[p] + pop_size[p]). Projections are CSR by presynaptic neuron,
concatenated: projection j's row pointer is indptr[pj_indptr_off[j] : ... + n_pre + 1]
(0-based within the projection) and its synapses are weights[pj_syn_off[j] + s]; per-synapse
delays (only for projections without one uniform delay, pj_delay[j] < 0) sit at
delays[pj_delay_off[j] + s], and the learning arrays of plastic projections at
post_synapses/eligibility[pj_plastic_off[j] + s], so static synapses cost no memory there.
Synaptic input of delayed synapses goes through a ring buffer ring[D, 2, n_neurons]
(receptor 0 excitatory current, 1 inhibitory): a spike of step k through a synapse of
delay d (steps) lands in slot (k + 1 + d) % D and is added to the current at the start of
step k + 1 + d, which is when Brian2 makes it felt too (its synapses act after the
threshold of step k + d). Projections with one delay of 0 steps (pj_delay == 0) add
straight into the currents (state rows 1, 2) after this step's update, which is the same
thing without the round trip through memory; use_ring tells the neuron updates whether
any projection uses the ring at all. Large networks replace the ring by a queue of
(target, weight) per slot, summed at delivery into ring[0] (q_count.shape[0] > 0; see
network/_pending.py): the same sums in the same order, with a working set that no longer
grows by D x 16 bytes per neuron. Linear populations whose constants are the same for
every neuron (pop_uniform) run the scalar fast path with pop_coef[p] (_linear_uniform.py).
Work per step: one pass over the neurons plus one pass over the synapses of the neurons
that spiked (event-driven), never over all synapses. As soon as a population has updated,
the rows of its spikes are prefetched, so that their cache misses overlap the next
population's update instead of stalling the propagation loop one row at a time.
"""

import numpy as np
from numba import njit

from network._linear_uniform import emit_spikes, pass_adaptive, pass_lif, pass_lif_input
from network._neurons import update_hodgkin_huxley, update_izhikevich, update_linear
from network._propagate import add_row, add_row_delayed, deliver, grow_queue, prefetch, push_row, push_row_delayed
from network.learning._kernels import apply_plasticity

# counters[] slots
REC_COUNT, MON_ROWS, MOD_CURSOR, SYN_EVENTS = 0, 1, 2, 3


@njit(cache=True)
def run_steps(k0, k1, dt_ms, learning,
              pop_offset, pop_size, pop_model, pop_uniform, pop_coef, state, coef, ring, use_ring, q_target, q_weight, q_count,
              pj_pre, pj_post, pj_receptor, pj_indptr_off, pj_syn_off, pj_delay, pj_delay_off,
              indptr, indices, weights, delays,
              pj_rule, pj_params_off, rule_params, pj_plastic_off, pj_post_indptr_off, post_indptr, post_synapses,
              pj_pre_trace_off, pre_traces, pj_post_trace_off, post_traces, eligibility,
              in_ptr, in_neuron, teach_ptr, teach_neuron, mod_step, mod_value, modulator,
              rec_flag, n_rec_max, rec_step, rec_neuron, counters,
              mon_neuron, mon_var, mon_every, mon_buf,
              spikes, local, teach_local, pos_lo, pos_hi, flags):
    """Advance steps k0 .. k1-1; stop early (at the step reached) when the spike record or
    the monitor buffer could overflow in the next step. Returns (next step, q_target,
    q_weight): the delayed-input queue grows here when it must (network/_pending.py)."""
    n_pop = pop_offset.shape[0]
    n_proj = pj_pre.shape[0]
    depth = ring.shape[0]
    n = state.shape[1]
    q_depth = q_count.shape[0]  # 0: delayed input goes through the ring, else through the queue
    rec_cap = rec_step.shape[0]
    mon_cap = mon_buf.shape[0]
    n_mon = mon_neuron.shape[0]
    # views made once per call, not per step: each view of a shared buffer costs an atomic
    # reference-count update, which at a few microseconds per step was ~10% of the step
    words = flags.view(np.uint64)
    pending = ring.reshape(depth * 2 * n)
    v_row, ie_row, ii_row, last_row, theta_row = state[0], state[1], state[2], state[3], state[4]
    currents = state[1:3].reshape(2 * n)  # I_exc then I_inh, indexed as the pending input
    # with the queue the input reaches the currents at delivery, so no update reads a slot
    read_pending = use_ring and q_depth == 0
    for k in range(k0, k1):
        e_lo = in_ptr[k - k0]
        e_hi = in_ptr[k - k0 + 1]
        if counters[REC_COUNT] + n_rec_max + (e_hi - e_lo) > rec_cap:
            return k, q_target, q_weight
        if n_mon > 0 and k % mon_every == 0 and counters[MON_ROWS] >= mon_cap:
            return k, q_target, q_weight
        # the input delivered for this step (ring slot, flat at in_e / in_i) is added by the
        # neuron updates, which clear the slot; monitors sample the currents with it included
        slot = k % depth
        in_e = slot * 2 * n
        in_i = in_e + n
        # queue room this step needs: as many as the fullest slot holds plus all its events
        q_need = 0
        if q_depth > 0:
            deliver(pending, currents, q_target, q_weight, q_count, k % q_depth)
            for t in range(q_depth):
                q_need = max(q_need, q_count[t])
        if n_mon > 0 and k % mon_every == 0:
            row = counters[MON_ROWS]
            for c in range(n_mon):
                var = mon_var[c]
                nrn = mon_neuron[c]
                value = state[var, nrn]
                if var == 1:
                    value += pending[in_e + nrn]
                elif var == 2:
                    value += pending[in_i + nrn]
                mon_buf[row, c] = value
            counters[MON_ROWS] = row + 1
        while counters[MOD_CURSOR] < mod_step.shape[0] and mod_step[counters[MOD_CURSOR]] <= k:
            modulator[0] = mod_value[counters[MOD_CURSOR]]
            counters[MOD_CURSOR] += 1
        # neuron updates, thresholds and resets
        n_spk = 0
        for p in range(n_pop):
            lo = pop_offset[p]
            hi = lo + pop_size[p]
            start = n_spk
            model = pop_model[p]
            if model == 0:
                for e in range(e_lo, e_hi):
                    spikes[n_spk] = in_neuron[e]
                    state[3, in_neuron[e]] = k
                    n_spk += 1
            elif model == 1 and pop_uniform[p]:
                if pop_coef[p, 10] != 1.0 or pop_coef[p, 11] != 0.0:  # adaptive threshold
                    crossed = pass_adaptive(lo, hi, k, v_row, ie_row, ii_row, last_row, theta_row, pop_coef, p,
                                            pending, in_e, in_i, flags)
                elif read_pending:
                    crossed = pass_lif_input(lo, hi, k, v_row, ie_row, ii_row, last_row, pop_coef, p, pending,
                                             in_e, in_i, flags)
                else:
                    crossed = pass_lif(lo, hi, k, v_row, ie_row, ii_row, last_row, pop_coef, p, flags)
                n_spk = emit_spikes(lo, hi, k, v_row, last_row, theta_row, pop_coef, p, crossed, flags, words,
                                    spikes, n_spk)
            elif model == 1:
                n_spk = update_linear(lo, hi, k, state, coef, spikes, n_spk, ring[slot, 0], ring[slot, 1])
            elif model == 2:
                n_spk = update_izhikevich(lo, hi, k, state, coef, spikes, n_spk, ring[slot, 0], ring[slot, 1])
            elif model == 3:
                n_spk = update_hodgkin_huxley(lo, hi, k, state, coef, spikes, n_spk, ring[slot, 0], ring[slot, 1],
                                              dt_ms)
            pos_lo[p] = start
            pos_hi[p] = n_spk
            # start loading the rows of this population's spikes (every line: ~15-30% faster than
            # the first lines only, at 4k-10k neurons) while the next populations update. A row
            # rarely starts on a line boundary, so stepping a line at a time from its first
            # synapse misses the line of its last one whenever the row ends past that step:
            # that line is asked for too (scaling benchmark, same-process A/B: ~6% less time per
            # synaptic event at 30k neurons; no change measurable at 100k or on CUBA)
            for j in range(n_proj):
                if pj_pre[j] == p:
                    ip = pj_indptr_off[j]
                    so = pj_syn_off[j]
                    for a in range(start, n_spk):
                        s_lo = so + indptr[ip + spikes[a] - lo]
                        s_hi = so + indptr[ip + spikes[a] - lo + 1]
                        if s_hi == s_lo:
                            continue
                        for s in range(s_lo, s_hi, 8):
                            prefetch(weights, s)
                        prefetch(weights, s_hi - 1)
                        for s in range(s_lo, s_hi, 16):
                            prefetch(indices, s)
                        prefetch(indices, s_hi - 1)
                        if pj_delay[j] < 0:
                            d_off = pj_delay_off[j] - so
                            for s in range(s_lo, s_hi, 32):
                                prefetch(delays, d_off + s)
                            prefetch(delays, d_off + s_hi - 1)
                        if pj_delay[j] != 0:
                            q_need += s_hi - s_lo
            for a in range(start, n_spk):
                local[a] = spikes[a] - lo
                if rec_flag[spikes[a]]:
                    r = counters[REC_COUNT]
                    rec_step[r] = k
                    rec_neuron[r] = spikes[a]
                    counters[REC_COUNT] = r + 1
        # plasticity, once per step per plastic projection, with this step's spikes
        if learning:
            for j in range(n_proj):
                rule = pj_rule[j]
                if rule == 0:
                    continue
                pre = pj_pre[j]
                post = pj_post[j]
                n_pre = pop_size[pre]
                n_post = pop_size[post]
                ip = pj_indptr_off[j]
                so = pj_syn_off[j]
                n_syn = indptr[ip + n_pre]
                pp = pj_post_indptr_off[j]
                ps = pj_plastic_off[j]
                q_lo = pop_offset[post]
                n_teach = 0
                for e in range(teach_ptr[k - k0], teach_ptr[k - k0 + 1]):
                    t = teach_neuron[e] - q_lo
                    if t >= 0 and t < n_post:
                        teach_local[n_teach] = t
                        n_teach += 1
                pa = pj_params_off[j]
                apply_plasticity(rule, rule_params[pa:pj_params_off[j + 1]], dt_ms,
                                 indptr[ip:ip + n_pre + 1], indices[so:so + n_syn],
                                 post_indptr[pp:pp + n_post + 1], post_synapses[ps:ps + n_syn],
                                 weights[so:so + n_syn],
                                 local[pos_lo[pre]:pos_hi[pre]], pos_hi[pre] - pos_lo[pre],
                                 local[pos_lo[post]:pos_hi[post]], pos_hi[post] - pos_lo[post],
                                 pre_traces[pj_pre_trace_off[j]:pj_pre_trace_off[j] + n_pre],
                                 post_traces[pj_post_trace_off[j]:pj_post_trace_off[j] + n_post],
                                 eligibility[ps:ps + n_syn], modulator[0], teach_local, n_teach)
        # event-driven propagation into the currents, the ring buffer or the queue (grown here,
        # once per step at most: an array reassigned per row costs reference counting per row)
        if q_depth > 0 and q_need > q_target.shape[1]:
            q_target, q_weight = grow_queue(q_target, q_weight, q_need)
        next_slot = (k + 1) % depth
        for j in range(n_proj):
            pre = pj_pre[j]
            a_lo = pos_lo[pre]
            a_hi = pos_hi[pre]
            if a_lo == a_hi:
                continue
            q_lo = pop_offset[pj_post[j]]
            r = pj_receptor[j]
            ip = pj_indptr_off[j]
            so = pj_syn_off[j]
            uniform = pj_delay[j]
            n_events = 0
            for a in range(a_lo, a_hi):
                i = local[a]
                s_lo = so + indptr[ip + i]
                s_hi = so + indptr[ip + i + 1]
                n_events += s_hi - s_lo
                if uniform == 0 and r == 0:  # straight into the current
                    add_row(ie_row, q_lo, indices, weights, s_lo, s_hi)
                elif uniform == 0:
                    add_row(ii_row, q_lo, indices, weights, s_lo, s_hi)
                elif q_depth > 0:
                    if uniform > 0:
                        push_row(q_target, q_weight, q_count, (k + 1 + uniform) % q_depth, r * n + q_lo, indices,
                                 weights, s_lo, s_hi)
                    else:
                        push_row_delayed(q_target, q_weight, q_count, (k + 1) % q_depth, q_depth, r * n + q_lo,
                                         indices, weights, delays, pj_delay_off[j] - so, s_lo, s_hi)
                elif uniform > 0:
                    add_row(pending, ((k + 1 + uniform) % depth) * 2 * n + r * n + q_lo, indices, weights, s_lo,
                            s_hi)
                else:
                    add_row_delayed(pending, r * n + q_lo, next_slot, depth, 2 * n, indices, weights, delays,
                                    pj_delay_off[j] - so, s_lo, s_hi)
            counters[SYN_EVENTS] += n_events
    return k1, q_target, q_weight


@njit(cache=True)
def steps_of_events(t, origin, dt_us, k0, k1):
    """Pointers ptr[k1 - k0 + 1] such that events ptr[k - k0] .. ptr[k - k0 + 1] - 1 fall in
    step k = (t - origin) // dt_us (t sorted)."""
    ptr = np.zeros(k1 - k0 + 1, np.int64)
    e = 0
    n = t.shape[0]
    for k in range(k0, k1):
        end = origin + (k + 1) * dt_us
        while e < n and t[e] < end:
            e += 1
        ptr[k - k0 + 1] = e
    return ptr


def refresh_cache() -> None:
    """Drop run_steps' on-disk compilation if a module it inlines changed since.

    Numba's cache checks only the source file of the cached function, not of the functions
    it calls: after an edit of the neuron updates or of a learning rule, the cached step
    loop would silently keep the old code. Called before the first run of a Network."""
    from pathlib import Path

    cache = getattr(run_steps, "_cache", None)
    index = Path(getattr(getattr(cache, "_cache_file", None), "_index_path", ""))
    if not index.name or not index.exists() or run_steps.signatures:
        return
    here = Path(__file__).parent
    deps = [here / "_neurons.py", here / "_linear_uniform.py", here / "_propagate.py", *sorted((here / "learning").glob("*.py"))]
    newest = max((p.stat().st_mtime for p in deps if p.exists()), default=0.0)
    if newest > index.stat().st_mtime:
        cache.flush()
