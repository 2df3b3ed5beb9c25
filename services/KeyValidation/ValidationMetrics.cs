using System.Diagnostics.Metrics;
using Keys.V1;

namespace Keys.KeyValidation;

/// <summary>Meter <c>Keys.Validation</c>: outcomes, where answers came from, and how long loads took. No key data.</summary>
public sealed class ValidationMetrics
{
    public const string MeterName = "Keys.Validation";

    private readonly Counter<long> _validations;
    private readonly Counter<long> _lookups;
    private readonly Histogram<double> _loadDuration;
    private readonly Counter<long> _lookupsShed;

    public ValidationMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _validations = meter.CreateCounter<long>("keys.validation.validations", description: "Validate calls by outcome");
        _lookups = meter.CreateCounter<long>("keys.validation.lookups", description: "Answers by the layer that gave them: memory, redis or key_admin");
        _lookupsShed = meter.CreateCounter<long>("keys.validation.lookups.shed", description: "Lookups refused because MaxConcurrentLookups were in flight");
        _loadDuration = meter.CreateHistogram<double>("keys.validation.load.duration", unit: "ms", description: "Time to load a record from Redis or KeyAdmin");
    }

    public void Validated(ValidationOutcome outcome) => _validations.Add(1, new KeyValuePair<string, object?>("outcome", OutcomeName(outcome)));

    public void Answered(string layer) => _lookups.Add(1, new KeyValuePair<string, object?>("layer", layer));

    public void LookupShed() => _lookupsShed.Add(1);

    public void Loaded(string source, TimeSpan elapsed) =>
        _loadDuration.Record(elapsed.TotalMilliseconds, new KeyValuePair<string, object?>("source", source));

    private static string OutcomeName(ValidationOutcome outcome) => outcome switch
    {
        ValidationOutcome.Valid => "valid",
        ValidationOutcome.InvalidFormat => "invalid_format",
        ValidationOutcome.NotFound => "not_found",
        ValidationOutcome.Revoked => "revoked",
        ValidationOutcome.Expired => "expired",
        _ => "unspecified",
    };
}
