using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using Google.Protobuf.Reflection;
using Microsoft.AspNetCore.Grpc.JsonTranscoding;
using Microsoft.AspNetCore.Routing.Template;
using HttpRule = Google.Api.HttpRule;

namespace Keys.KeyAdmin.Rest;

/// <summary>One REST operation: an HTTP binding of an RPC, with what JSON transcoding takes from the body and the route.</summary>
public sealed partial class RestOperation
{
    private readonly HashSet<string> _routeFields;

    public RestOperation(MethodDescriptor method, HttpRule rule)
    {
        Method = method;
        Rule = rule;
        _routeFields = [.. RouteVariable().Matches(PathOf(rule)).Select(m => m.Groups[1].Value)];
        BodyField = rule.Body is "" or "*" ? null : method.InputType.FindFieldByName(rule.Body);
        BodyType = rule.Body switch
        {
            "" => null,
            "*" => method.InputType,
            _ => BodyField?.MessageType,
        };
    }

    public MethodDescriptor Method { get; }

    public HttpRule Rule { get; }

    /// <summary>The message the body is read into; null when the operation takes no body.</summary>
    public MessageDescriptor? BodyType { get; }

    /// <summary>The request field the body fills (<c>body: "key"</c>); null for the whole request or no body.</summary>
    public FieldDescriptor? BodyField { get; }

    /// <summary>
    /// Whether JSON transcoding takes the query parameter <paramref name="name"/> from elsewhere (the route or the body)
    /// and so ignores it in the query string; with <c>body: "*"</c> it reads nothing from the query.
    /// </summary>
    public bool IsBoundElsewhere(string name) =>
        Rule.Body == "*"
        || _routeFields.Contains(name)
        || (BodyField is not null && (name == BodyField.Name || name.StartsWith(BodyField.Name + ".", StringComparison.Ordinal)));

    public static string PathOf(HttpRule rule) => rule.PatternCase switch
    {
        HttpRule.PatternOneofCase.Get => rule.Get,
        HttpRule.PatternOneofCase.Post => rule.Post,
        HttpRule.PatternOneofCase.Put => rule.Put,
        HttpRule.PatternOneofCase.Patch => rule.Patch,
        HttpRule.PatternOneofCase.Delete => rule.Delete,
        HttpRule.PatternOneofCase.Custom => rule.Custom.Path,
        _ => "",
    };

    [GeneratedRegex(@"\{([A-Za-z0-9_.]+)(?:=[^}]*)?\}")]
    private static partial Regex RouteVariable();
}

/// <summary>
/// The REST operations JSON transcoding serves, read once from the app's endpoints: which one a request reached, and
/// for a request that reached none, which methods its path takes (405 with <c>Allow</c>) or that it has none (404).
/// </summary>
public sealed class RestRoutes(EndpointDataSource endpoints)
{
    private readonly Lazy<List<(TemplateMatcher Matcher, IReadOnlyList<string> Methods)>> _paths = new(() => PathsOf(endpoints));

    // By the binding's rule, not the endpoint: routing may hand out other instances of an endpoint than a data source lists.
    private readonly ConditionalWeakTable<HttpRule, RestOperation> _operations = [];

    /// <summary>The REST operation an endpoint serves, or null when it serves none (gRPC, static files, health).</summary>
    public RestOperation? Find(Endpoint endpoint) =>
        endpoint.Metadata.GetMetadata<GrpcJsonTranscodingMetadata>() is { } transcoding
            ? _operations.GetValue(transcoding.HttpRule, rule => new RestOperation(transcoding.MethodDescriptor, rule))
            : null;

    /// <summary>Every method some REST operation takes at <paramref name="path"/>, sorted; empty when none has the path.</summary>
    public IReadOnlyList<string> AllowedMethods(PathString path)
    {
        var allowed = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (matcher, methods) in _paths.Value)
        {
            if (matcher.TryMatch(path, []))
            {
                allowed.UnionWith(methods);
            }
        }

        return [.. allowed];
    }

    private static List<(TemplateMatcher, IReadOnlyList<string>)> PathsOf(EndpointDataSource source)
    {
        var paths = new List<(TemplateMatcher, IReadOnlyList<string>)>();
        foreach (var endpoint in source.Endpoints.OfType<RouteEndpoint>())
        {
            if (endpoint.Metadata.GetMetadata<GrpcJsonTranscodingMetadata>() is not null)
            {
                var methods = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? [];
                paths.Add((new TemplateMatcher(new RouteTemplate(endpoint.RoutePattern), []), methods));
            }
        }

        return paths;
    }
}
