"""The table printed at the end of a sort: files per folder, errors, throughput, the slowest
stage and anything the user should know (skipped, recovered, deferred files)."""

from classifier.sort_manifest import MANIFEST_NAME, UNKNOWN


def summary_table(result):
    """The end-of-run summary as text: files per folder, errors, throughput, limiting stage."""
    lines = []
    folders = [*result.classes, UNKNOWN]
    heading = "would go to" if result.dry_run else "this run"
    show_totals = bool(result.totals) and not result.dry_run
    lines.append(f"{'folder':<14}{heading:>12}" + (f"{'in folder':>12}" if show_totals else ""))
    for name in folders:
        run = result.counts.get(name, 0)
        total = result.totals.get(name, 0)
        if run or total:
            lines.append(f"{name + '/':<14}{run:>12}" + (f"{total:>12}" if show_totals else ""))
    lines.append(f"{'errors':<14}{len(result.errors):>12}"
                 + (f"{result.total_errors:>12}" if show_totals else ""))
    total_run = sum(result.counts.values()) + len(result.errors)
    lines.append(f"{'total':<14}{total_run:>12}"
                 + (f"{sum(result.totals.values()) + result.total_errors:>12}"
                    if show_totals else ""))
    rate = result.images_per_second
    lines.append(f"{result.processed} images in {result.seconds:.1f} s: {rate:,.0f} images/s")
    if result.stage_seconds and result.processed:
        stage = max(result.stage_seconds, key=result.stage_seconds.get)
        parts = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in
                          result.stage_seconds.items())
        lines.append(f"stages (overlapping): {parts}; limited by {stage}")
    if result.skipped:
        lines.append(f"{result.skipped} images already sorted earlier were skipped")
    if result.recovered:
        lines.append(f"{result.recovered} operations of an interrupted run were finished")
    if result.deferred:
        lines.append(f"{result.deferred} images left in place because their destination name "
                     "appeared during the run; run again to sort them")
    if result.interrupted:
        lines.append("an interrupted sort is pending: the next run without --dry-run finishes it")
    if result.vanished:
        lines.append(f"{result.vanished} images were deleted by something else during the run")
    for path, reason in result.errors[:10]:
        lines.append(f"error: {path}: {reason}")
    if len(result.errors) > 10:
        lines.append(f"... and {len(result.errors) - 10} more errors (see {MANIFEST_NAME})")
    return "\n".join(lines)
