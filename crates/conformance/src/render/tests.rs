use super::*;

#[test]
fn a_date_only_stop_includes_that_whole_day() {
    assert_eq!(
        time_constraint("ds", Some("2020-01-01"), Some("2020-01-31")).unwrap(),
        "CAST(ds AS TIMESTAMP) >= CAST('2020-01-01' AS TIMESTAMP) \
         AND CAST(ds AS TIMESTAMP) < CAST('2020-02-01' AS TIMESTAMP)"
    );
    assert_eq!(
        time_constraint("ds", None, Some("2020-02-29")).unwrap(),
        "CAST(ds AS TIMESTAMP) < CAST('2020-03-01' AS TIMESTAMP)"
    );
}

#[test]
fn a_timestamp_stop_includes_that_second() {
    assert_eq!(
        time_constraint("ts", Some("2020-01-01 02:00:00"), Some("2020-01-03 05:59:59")).unwrap(),
        "CAST(ts AS TIMESTAMP) >= CAST('2020-01-01 02:00:00' AS TIMESTAMP) \
         AND CAST(ts AS TIMESTAMP) < CAST('2020-01-03 06:00:00' AS TIMESTAMP)"
    );
    assert_eq!(
        time_constraint("ts", None, Some("2020-12-31T23:59:59")).unwrap(),
        "CAST(ts AS TIMESTAMP) < CAST('2021-01-01T00:00:00' AS TIMESTAMP)"
    );
}

#[test]
fn a_start_alone_has_no_upper_bound_and_no_bound_is_an_error() {
    assert_eq!(
        time_constraint("a.ds", Some("2019-12-20"), None).unwrap(),
        "CAST(a.ds AS TIMESTAMP) >= CAST('2019-12-20' AS TIMESTAMP)"
    );
    assert_eq!(
        time_constraint("ds", None, None).unwrap_err(),
        "render_time_constraint: give start_time or stop_time"
    );
}

#[test]
fn time_constraint_takes_positional_and_keyword_arguments_in_jinja() {
    let renderer = Renderer::new();
    assert_eq!(
        renderer
            .check_query(r#"{{ render_time_constraint("ds", "2020-01-01", "2020-01-01") }}"#)
            .unwrap(),
        "CAST(ds AS TIMESTAMP) >= CAST('2020-01-01' AS TIMESTAMP) \
         AND CAST(ds AS TIMESTAMP) < CAST('2020-01-02' AS TIMESTAMP)"
    );
    assert_eq!(
        renderer
            .check_query(r#"{{ render_time_constraint("ds", stop_time="2020-01-01") }}"#)
            .unwrap(),
        "CAST(ds AS TIMESTAMP) < CAST('2020-01-02' AS TIMESTAMP)"
    );
    let error = renderer
        .check_query(r#"{{ render_time_constraint("ds", "2020-01-01", start_time="2020-01-02") }}"#)
        .unwrap_err();
    assert!(
        error.contains("got multiple values for argument `start_time`"),
        "{error}"
    );
}

#[test]
fn extract_renders_dow_as_iso_day_of_week() {
    let renderer = Renderer::new();
    assert_eq!(
        renderer
            .check_query(r#"{{ render_extract("ds", DatePart.DOW) }}"#)
            .unwrap(),
        "date_part('isodow', CAST(ds AS TIMESTAMP))"
    );
    assert_eq!(
        renderer
            .check_query(r#"{{ render_extract("a.ds", DatePart.DOY) }}"#)
            .unwrap(),
        "date_part('doy', CAST(a.ds AS TIMESTAMP))"
    );
}

#[test]
fn date_helpers_render_for_datafusion() {
    let renderer = Renderer::new();
    let render = |t: &str| renderer.check_query(t).unwrap();
    assert_eq!(
        render(r#"{{ render_date_trunc("ds", TimeGranularity.WEEK) }}"#),
        "DATE_TRUNC('week', CAST(ds AS TIMESTAMP))"
    );
    assert_eq!(
        render(r#"{{ render_date_sub("a", "ds", 2, TimeGranularity.WEEK) }}"#),
        "(a.ds - INTERVAL '14 day')"
    );
    assert_eq!(
        render(r#"{{ render_date_sub("a", "ds", 1, TimeGranularity.QUARTER) }}"#),
        "(a.ds - INTERVAL '3 month')"
    );
    assert_eq!(
        render(r#"{{ render_date_add("d", "(n - 1)", TimeGranularity.DAY) }}"#),
        "CAST(d AS TIMESTAMP) + CAST(CAST(CAST(((n - 1)) AS BIGINT) AS VARCHAR) || ' day' AS INTERVAL)"
    );
    assert_eq!(
        render(r#"{{ render_date_add("d", "n", TimeGranularity.QUARTER) }}"#),
        "CAST(d AS TIMESTAMP) + CAST(CAST(CAST((n) AS BIGINT) * 3 AS VARCHAR) || ' month' AS INTERVAL)"
    );
    assert_eq!(
        render("{{ cast_to_ts('2020-01-04') }}"),
        "CAST('2020-01-04' AS TIMESTAMP)"
    );
    assert_eq!(
        render(
            "{{ source_schema }}.t {{ mf_time_spine_source }} {{ double_data_type_name }} {{ generate_random_uuid() }}"
        ),
        "public.t public.mf_time_spine DOUBLE uuid()"
    );
}

#[test]
fn percentiles_are_continuous_in_datafusion_and_discrete_through_a_named_udaf() {
    let renderer = Renderer::new();
    assert_eq!(
        renderer
            .check_query(r#"{{ render_percentile_expr("v", 0.5, False, False) }}"#)
            .unwrap(),
        "percentile_cont(0.5) WITHIN GROUP (ORDER BY v)"
    );
    assert_eq!(
        renderer
            .check_query(r#"{{ render_percentile_expr("v", 0.99, True, False) }}"#)
            .unwrap(),
        "percentile_disc_0_99(CAST(v AS DOUBLE))"
    );
    assert_eq!(
        renderer.discrete_percentiles(),
        [("percentile_disc_0_99".to_owned(), 0.99)]
    );
}

#[test]
fn filter_templates_emit_metricflow_jinja() {
    let renderer = Renderer::new();
    let render = |t: &str| renderer.where_filter(t).unwrap();
    assert_eq!(
        render("{{ render_dimension_template('listing__country_latest') }} = 'us'"),
        "{{ Dimension('listing__country_latest', entity_path=()) }} = 'us'"
    );
    assert_eq!(
        render("{{ render_dimension_template('country', entity_path=['listing']) }}"),
        "{{ Dimension('country', entity_path=['listing']) }}"
    );
    assert_eq!(
        render("{{ render_time_dimension_template('metric_time', 'day') }}"),
        "{{ TimeDimension('metric_time', 'day', entity_path=()) }}"
    );
    assert_eq!(
        render("{{ render_time_dimension_template('metric_time') }}"),
        "{{ TimeDimension('metric_time', entity_path=()) }}"
    );
    assert_eq!(
        render("{{ render_metric_template('bookings', ['listing']) }} > 2"),
        "{{ Metric('bookings', group_by=['listing']) }} > 2"
    );
    assert_eq!(
        render("{{ render_entity_template('user') }}"),
        "{{ Entity('user', entity_path=()) }}"
    );
    assert_eq!(
        render(
            "{{ render_time_constraint(render_time_dimension_template('metric_time', 'alien_day'), start_time='2020-01-01') }}"
        ),
        "CAST({{ TimeDimension('metric_time', 'alien_day', entity_path=()) }} AS TIMESTAMP) \
         >= CAST('2020-01-01' AS TIMESTAMP)"
    );
}

#[test]
fn check_queries_do_not_get_filter_templates_and_undefined_names_fail() {
    let renderer = Renderer::new();
    let error = renderer
        .check_query("{{ render_dimension_template('x') }}")
        .unwrap_err();
    assert!(error.contains("render_dimension_template is unknown"), "{error}");
    let error = renderer.check_query("{{ no_such_helper }}").unwrap_err();
    assert!(error.contains("undefined"), "{error}");
}
