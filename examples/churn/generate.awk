# Generates customers of a telecom company, one CSV row each, from a seeded generator that gives
# the same rows with any awk (a Park-Miller generator; awk's rand() differs between awks).
#
#   awk -v n=3000 -v seed=1 -v month=0 -v first_id=100000 -f generate.awk > customers.csv
#
# month=0: the customers the model is trained on. month=1: a later month after a price rise and
# a support outage: charges are higher, more customers are on monthly contracts and newer, and
# churn now follows support calls far more than tenure (the data drifts and so does the concept,
# so the old model's accuracy drops).
function rnd() {
    state = (state * 16807) % 2147483647
    return state / 2147483647
}
BEGIN {
    state = (seed * 7919 + 12345) % 2147483647
    if (state <= 0) state = 1
    print "customer_id,tenure_months,monthly_charges,contract,support_calls,churned"
    for (i = 0; i < n; i++) {
        monthly_share = month ? 0.70 : 0.45
        tenure = month ? 1 + int(rnd() * rnd() * 72) : 1 + int(rnd() * 72)
        u = rnd()
        if (u < monthly_share) contract = "month-to-month"
        else if (u < monthly_share + (1 - monthly_share) / 2) contract = "one-year"
        else contract = "two-year"
        charges = 20 + rnd() * 80 + (contract == "month-to-month" ? 10 : 0) + (month ? 25 : 0)
        calls = month ? int(rnd() * 9) : int(rnd() * rnd() * 9)
        monthly = contract == "month-to-month"
        if (month)
            z = -3.2 + 0.004 * tenure + 0.005 * (charges - 70) + 0.3 * monthly + 0.75 * calls
        else
            z = -0.6 - 0.05 * tenure + 0.03 * (charges - 70) + 1.5 * monthly \
                - 0.8 * (contract == "two-year") + 0.2 * calls
        churned = rnd() < 1 / (1 + exp(-z)) ? 1 : 0
        printf "%d,%d,%.2f,%s,%d,%d\n", first_id + i, tenure, charges, contract, calls, churned
    }
}
