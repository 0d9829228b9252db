# Trains a tiny churn model: the churn rate of each contract type (with additive smoothing)
# and the number of support calls from which a customer counts as likely to churn, chosen for
# the best training accuracy. Prints the model as "key value" lines.
#   awk -F, -v smoothing=1 -v max_calls=10 -f train.awk prepared/train.csv > models/churn.txt
NR == 1 { next }
{ n++; seen[$4]++; churned[$4] += $6; calls[n] = $5; contract[n] = $4; label[n] = $6 }
END {
    for (c in seen) rate[c] = (churned[c] + smoothing) / (seen[c] + 2 * smoothing)
    best = -1
    for (t = 0; t <= max_calls; t++) {
        right = 0
        for (i = 1; i <= n; i++) {
            p = (rate[contract[i]] >= 0.5 || calls[i] >= t) ? 1 : 0
            if (p == label[i]) right++
        }
        if (right > best) { best = right; threshold = t }
    }
    for (c in rate) printf "rate.%s %.6f\n", c, rate[c] | "sort"
    close("sort")
    printf "threshold %d\n", threshold
    printf "train_accuracy %.6f\n", best / n
}
