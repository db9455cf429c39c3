"""The write layer for insights: RFM and lifecycle (``rfm``), scoring plans
(``scoring``), predictive models (``predictions``, over ``features``), the
purchase follower (``purchases``) and the daily run (``daily``)."""
