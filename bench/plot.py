"""Bar charts of bench/out/results.json (run by run.py in the bench venv, which has matplotlib).

Usage: python plot.py results.json results.png
Left: uhttpd / peer for each comparison (1.0 line; the issue's targets as ticks).
Right: each absolute measure against its target (1.0 = exactly the target; above is better).
Both on a log scale, since ratios against slow peers reach 20x.
"""
import json
import sys

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402


def main():
    results = json.load(open(sys.argv[1]))
    comps = [c for c in results.get('comparisons', []) if c.get('ratio')]
    absolute = [a for a in results.get('absolute', []) if a.get('target') and a.get('value')]
    width = max(14, 0.45 * (len(comps) + len(absolute)))  # room for a label per bar
    fig, axes = plt.subplots(1, 2, figsize=(width, 7), gridspec_kw={'width_ratios': [max(len(comps), 1),
                                                                                   max(len(absolute), 1) + 1]})
    ax = axes[0]
    labels = ['%s\n%s vs %s' % (c['title'].replace(' static file', '').replace(', Hello World', ''),
                                c['load'].replace('wrk ', ''), c['peer']) for c in comps]
    ratios = [c['ratio'] for c in comps]
    colors = ['#2a9d8f' if (c['target'] is None and c['ratio'] >= 1) or (c['target'] and c['met'])
              else '#e76f51' for c in comps]
    bars = ax.bar(range(len(comps)), ratios, color=colors)
    for i, c in enumerate(comps):
        if c['target']:
            ax.plot([i - 0.4, i + 0.4], [c['target']] * 2, color='black', linestyle=':', linewidth=1.5)
    for b, r in zip(bars, ratios):
        ax.annotate('%.2f×' % r, (b.get_x() + b.get_width() / 2, b.get_height()), ha='center', va='bottom',
                    fontsize=8)
    ax.axhline(1.0, color='black', linewidth=1)
    ax.set_xticks(range(len(comps)))
    ax.set_xticklabels(labels, rotation=60, ha='right', fontsize=8)
    ax.set_yscale('log')
    ax.set_ylabel('uhttpd / peer (log scale, higher is better)')
    ax.set_title('uhttpd vs peers (dotted: target)')

    ax = axes[1]
    scores = [(a['value'] / a['target']) if a['op'] == '>=' else (a['target'] / a['value'])
              for a in absolute]
    colors = ['#2a9d8f' if a['met'] else '#e76f51' for a in absolute]
    bars = ax.bar(range(len(absolute)), scores, color=colors)
    for b, a in zip(bars, absolute):
        ax.annotate('%.3g %s' % (a['value'], a['unit']), (b.get_x() + b.get_width() / 2, b.get_height()),
                    ha='center', va='bottom', fontsize=8)
    ax.axhline(1.0, color='black', linewidth=1)
    ax.set_xticks(range(len(absolute)))
    ax.set_xticklabels([a['name'] for a in absolute], rotation=60, ha='right', fontsize=8)
    ax.set_yscale('log')
    ax.set_ylabel('target / value or value / target (log scale, > 1 meets it)')
    ax.set_title('uhttpd against absolute targets')
    meta = results.get('meta', {})
    fig.suptitle('uhttpd benchmarks %s (%s, %s round(s), %s s runs)' % (
        meta.get('date', ''), 'quick' if meta.get('quick') else 'full', meta.get('rounds'), meta.get('duration_s')))
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == '__main__':
    main()
