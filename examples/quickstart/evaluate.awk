# Scores the model on the test set and writes the metrics as JSON.
#   awk -F, -f evaluate.awk models/churn.txt prepared/test.csv > metrics.json
FNR == NR { split($0, kv, " "); model[kv[1]] = kv[2]; next }
FNR == 1 { next }
{
    n++
    p = (model["rate." $4] >= 0.5 || $5 >= model["threshold"]) ? 1 : 0
    if (p == $6) right++
    if (p == 1 && $6 == 1) tp++
    if (p == 1) predicted++
    if ($6 == 1) actual++
}
END {
    printf "{\"accuracy\": %.4f, \"precision\": %.4f, \"recall\": %.4f, \"test_rows\": %d}\n", \
        right / n, (predicted ? tp / predicted : 0), (actual ? tp / actual : 0), n
}
