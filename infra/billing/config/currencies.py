"""The currencies Stripe charges in, so a typo (`xyz`) is refused offline, not by Stripe.

Stripe's list of supported presentment currencies (docs.stripe.com/currencies), lowercase as the
API takes them. Retired codes (EEK, LTL, LVL, HRK, VEF) are left out: Stripe refuses them now.
"""

from __future__ import annotations

STRIPE_CURRENCIES = frozenset(
    """
    aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bif bmd bnd bob brl bsd bwp byn bzd
    cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp gel gip gmd gnf
    gtq gyd hkd hnl htg huf idr ils inr isk jmd jpy kes kgs khr kmf krw kyd kzt lak lbp lkr lrd
    lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad ngn nio nok npr nzd pab pen pgk
    php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek sgd shp sle sos srd std szl thb tjs top
    try ttd twd tzs uah ugx usd uyu uzs vnd vuv wst xaf xcd xof xpf yer zar zmw
    """.split()  # noqa: SIM905 - a table to read, not a list literal of 135 strings
)
