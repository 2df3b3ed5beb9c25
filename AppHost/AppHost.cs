using Keys.AppHost.Commands;
using Keys.AppHost.Infrastructure;

var builder = DistributedApplication.CreateBuilder(args);

// Configuration has been read: secrets given to the AppHost as environment variables go no further than the app model
// hands them on, instead of into every process DCP starts.
InheritedEnvironment.RemoveSecrets();

var settings = KeysSettings.From(builder.Configuration);
var infrastructure = builder.AddKeysInfrastructure(settings);
var adminToken = builder.AddAdminToken(settings);

// One credential per calling service, known only to it and to the services it calls: the operator token reaches
// KeyAdmin alone. See docs/security.md.
var keyValidationToken = builder.AddServiceToken("key-validation-token");
var gatewayToken = builder.AddServiceToken("gateway-token");
var ordersToken = builder.AddServiceToken("orders-token");
// The dashboard's commands act on KeyAdmin with a credential of their own, so the audit log says "dashboard".
var dashboardToken = builder.AddServiceToken("dashboard-token");

var keyAdmin = builder.AddProject<Projects.Keys_KeyAdmin>("key-admin")
    .WithHostEnvironment(builder.Environment)
    .WithEndpoint("http", e => e.Port = settings.KeyAdminPort)
    .WithEndpoint("grpc", e => e.Port = null)
    // The operator's way in, one click from the dashboard; the gRPC address is for services, not people.
    .WithUrlForEndpoint("http", url => url.DisplayText = "API Keys console")
    .WithUrlForEndpoint("grpc", url => url.DisplayLocation = UrlDisplayLocation.DetailsOnly)
    .WithReference(infrastructure.Database).WaitFor(infrastructure.Database)
    .WithReference(infrastructure.Redis).WaitFor(infrastructure.Redis)
    .WithEnvironment("KeyAdmin__AdminToken", adminToken)
    .WithEnvironment("KeyAdmin__DashboardToken", dashboardToken)
    .WithEnvironment("ServiceAuth__Callers__key-validation", keyValidationToken)
    .WithHttpHealthCheck("/health", endpointName: "http")
    .WithKeyAdminCommands(dashboardToken);

var keyValidation = builder.AddProject<Projects.Keys_KeyValidation>("key-validation")
    .WithHostEnvironment(builder.Environment)
    .WithEndpoint("http", e => e.Port = null)
    .WithEndpoint("grpc", e => e.Port = null)
    .WithReference(infrastructure.Redis).WaitFor(infrastructure.Redis)
    .WithReference(keyAdmin).WaitFor(keyAdmin)
    .WithEnvironment("ServiceAuth__Token", keyValidationToken)
    .WithEnvironment("ServiceAuth__Callers__gateway", gatewayToken)
    .WithEnvironment("ServiceAuth__Callers__orders", ordersToken)
    .WithReplicas(settings.KeyValidationReplicas)
    .WithHttpHealthCheck("/health", endpointName: "http")
    .WithFlushCachesCommand(keyAdmin, dashboardToken, "key-validation");

var demoApi = builder.AddProject<Projects.Keys_DemoApi>("demo-api")
    .WithHostEnvironment(builder.Environment)
    .WithHttpEndpoint()
    .WithHttpHealthCheck("/health");

builder.AddProject<Projects.Keys_Gateway>("gateway")
    .WithHostEnvironment(builder.Environment)
    .WithEndpoint("http", e => e.Port = settings.GatewayPort)
    .WithReference(keyValidation).WaitFor(keyValidation)
    .WithReference(demoApi).WaitFor(demoApi)
    .WithEnvironment("ServiceAuth__Token", gatewayToken)
    .WithReplicas(settings.GatewayReplicas)
    .WithHttpHealthCheck("/health")
    .WithFlushCachesCommand(keyAdmin, dashboardToken, "gateways");

// An internal gRPC service that checks API keys itself, through Keys.AspNetCore (h2c on its fixed port; health on HTTP/1.1).
builder.AddProject<Projects.Keys_Orders>("orders")
    .WithHostEnvironment(builder.Environment)
    .WithEndpoint("grpc", e => e.Port = settings.OrdersPort)
    .WithEndpoint("http", e => e.Port = null)
    .WithReference(keyValidation).WaitFor(keyValidation)
    .WithEnvironment("ServiceAuth__Token", ordersToken)
    .WithHttpHealthCheck("/health", endpointName: "http");

builder.Build().Run();
