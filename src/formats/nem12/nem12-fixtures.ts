/**
 * What the public NEM12 fixtures (test/fixtures/nem12) hold, for the reader's and the pipeline's
 * tests: the problems each invalid file must yield, by line, read from the files by hand.
 */
/** Problems (line, code) each invalid fixture must yield, and the interval days still read. */
export const INVALID_EXPECTATIONS: Record<
  string,
  { problems: Array<[number, string]>; days: number }
> = {
  'aemo-NEM12#000000000000021#CNRGYMDP#NEMMCO': {
    problems: [[2, 'interval_day_without_details']],
    days: 0,
  },
  'aemo-NEM12#000000000000022#CNRGYMDP#NEMMCO': {
    problems: [
      [2, 'suffix_not_in_configuration'],
      [3, 'interval_day_without_details'],
    ],
    days: 0,
  },
  'aemo-NEM12#000000000000023#CNRGYMDP#NEMMCO': { problems: [[4, 'quality_invalid']], days: 1 },
  'aemo-NEM12#000000000000024#CNRGYMDP#NEMMCO': { problems: [[4, 'quality_invalid']], days: 1 },
  'aemo-NEM12#000000000000025#CNRGYMDP#NEMMCO': { problems: [[3, 'missing_end']], days: 1 },
  'aemo-NEM12#DerpyNMIConfig#CNRGYMDP#NEMMCO.csv': {
    problems: [
      [2, 'nmi_details_invalid'],
      [3, 'interval_day_without_details'],
    ],
    days: 7,
  },
  'aemo-NEM12#EmptyCells300Record#CNRGYMDP#NEMMCO.csv': {
    problems: [[3, 'value_not_decimal']],
    days: 0,
  },
  'aemo-NEM12#EmptyCells400Record#CNRGYMDP#NEMMCO.csv': {
    problems: [[7, 'interval_event_range']],
    days: 4,
  },
  'nemreader-Example_NEM12_15min_200_30min_300.csv': {
    problems: [
      [3, 'interval_count_mismatch'],
      [4, 'interval_event_without_day'],
      [5, 'interval_event_without_day'],
    ],
    days: 0,
  },
  'nemreader-Example_NEM12_15min_200_30min_400.csv': {
    problems: [[3, 'interval_event_coverage']],
    days: 1,
  },
  'nemreader-Example_NEM12_30min_200_15min_400.csv': {
    problems: [
      [3, 'interval_count_mismatch'],
      [4, 'interval_event_without_day'],
      [5, 'interval_event_without_day'],
    ],
    days: 0,
  },
  // A 100 and a 900 with nothing between: a well-formed empty delivery, not a problem.
  'nemreader-Example_NEM12_empty.csv': { problems: [], days: 0 },
  'nemreader-Example_NEM12_incomplete_interval.csv': {
    problems: [[3, 'interval_count_mismatch']],
    days: 3,
  },
  'nemreader-Example_NEM12_missing_header.csv': { problems: [[2, 'missing_header']], days: 2 },
  'nemreader-Example_NEM12_powercor.csv': {
    problems: [
      [2, 'missing_header'],
      [8, 'records_after_end'],
    ],
    days: 4,
  },
  'nemreader-Example_NEM12_powercor_missing_fields.csv': {
    problems: [
      [2, 'missing_header'],
      [8, 'records_after_end'],
    ],
    days: 4,
  },
  'nemreader-Example_empty_file.csv': { problems: [[1, 'empty_file']], days: 0 },
};
