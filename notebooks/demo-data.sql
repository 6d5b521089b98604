-- The demo data set: one week of gas-sensor readings, one per minute, from
-- six sensors at three sites, written to s3://demo as Parquet, CSV and JSON.
-- `quarry lab` runs this once; the tests run it against their own S3 server.
-- Values are deterministic (sines of the minute index), so answers are
-- reproducible.
COPY (
  SELECT
    to_timestamp_seconds(1767571200 + m.value * 60) AS reading_time,
    'GS-0' || CAST(s.value AS VARCHAR) AS sensor_id,
    CASE s.value % 3 WHEN 0 THEN 'harbour' WHEN 1 THEN 'campus' ELSE 'tunnel' END AS site,
    round(18 + 6 * sin(m.value / 229.18) + s.value * 0.7 + 0.8 * sin(m.value * 0.37 + s.value), 2) AS temperature_c,
    round(55 + 15 * cos(m.value / 300.0 + s.value) + 3 * sin(m.value * 0.11), 1) AS humidity_pct,
    round(greatest(0.0, 1.5 + 1.2 * sin(m.value / 90.0 + s.value * 0.5) + (s.value % 3 = 2)::INT * 2.5), 3) AS co_ppm,
    round(greatest(0.0, 20 + 12 * sin(m.value / 180.0 + s.value) + 4 * cos(m.value * 0.05)), 1) AS no2_ppb,
    CASE WHEN (m.value + s.value * 7) % 997 = 0 THEN 'fault' ELSE 'ok' END AS status
  FROM generate_series(0, 10079) AS m CROSS JOIN generate_series(1, 6) AS s
  ORDER BY reading_time, sensor_id
) TO 's3://demo/sensors/readings.parquet' STORED AS PARQUET;

COPY (
  SELECT * FROM 's3://demo/sensors/readings.parquet'
  WHERE reading_time < to_timestamp_seconds(1767571200 + 86400)
) TO 's3://demo/sensors/readings-day1.csv' STORED AS CSV OPTIONS ('format.has_header' 'true');

COPY (
  SELECT * FROM (VALUES
    ('GS-01', 'campus',  'Figaro TGS-2442', DATE '2025-03-14'),
    ('GS-02', 'tunnel',  'Alphasense CO-B4', DATE '2025-04-02'),
    ('GS-03', 'harbour', 'Figaro TGS-2442', DATE '2025-04-02'),
    ('GS-04', 'campus',  'Alphasense NO2-B43F', DATE '2025-06-19'),
    ('GS-05', 'tunnel',  'Alphasense CO-B4', DATE '2025-06-19'),
    ('GS-06', 'harbour', 'Sensirion SGP41', DATE '2025-09-30')
  ) AS t(sensor_id, site, model, installed_on)
) TO 's3://demo/sensors/sensors.json' STORED AS JSON;
