# Splits data/churn.csv into a training and a test set, deterministically by customer id.
#   awk -F, -v share=0.8 -v train=prepared/train.csv -v test=prepared/test.csv -f prepare.awk data/churn.csv
NR == 1 { print > train; print > test; next }
{ if (($1 * 7919) % 100 < share * 100) print > train; else print > test }
