"""Reading datasets: statistics, figures, the HTML report, snapshots and their comparisons."""
