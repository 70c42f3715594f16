package canaryjudge

import (
	"context"
	"errors"

	"github.com/threader/guard/internal/ansiblemod"
	"github.com/threader/guard/internal/canary"
	"github.com/threader/guard/internal/metrics/observe"
)

// spec adds metrics_textfile and pushgateway_url (observe.WithOptions) and
// the prometheus_* connection options shared with slo_check.
var spec = ansiblemod.Spec{
	Options: observe.WithOptions(ansiblemod.MergeOptions(map[string]ansiblemod.Option{
		"lookback": {Type: ansiblemod.Str},
		"start":    {Type: ansiblemod.Str},
		"end":      {Type: ansiblemod.Str},
		"step":     {Type: ansiblemod.Str, Default: defaultStep},
		"metrics": {Type: ansiblemod.List, Elements: ansiblemod.Dict, Required: true, Options: map[string]ansiblemod.Option{
			"name":           {Type: ansiblemod.Str, Required: true},
			"canary_query":   {Type: ansiblemod.Str, Required: true},
			"baseline_query": {Type: ansiblemod.Str, Required: true},
			"direction":      {Type: ansiblemod.Str, Default: "either", Choices: []any{"increase", "decrease", "either"}},
			"nan_strategy":   {Type: ansiblemod.Str, Default: "remove", Choices: []any{"remove", "replace"}},
			"critical":       {Type: ansiblemod.Bool, Default: false},
			"must_have_data": {Type: ansiblemod.Bool, Default: false},
			"group":          {Type: ansiblemod.Str},
			"effect_size": {Type: ansiblemod.Dict, Options: map[string]ansiblemod.Option{
				"measure":           {Type: ansiblemod.Str, Default: "mean_ratio", Choices: []any{"mean_ratio", "cles"}},
				"allowed_increase":  {Type: ansiblemod.Float},
				"allowed_decrease":  {Type: ansiblemod.Float},
				"critical_increase": {Type: ansiblemod.Float},
				"critical_decrease": {Type: ansiblemod.Float},
			}},
			"outliers":         {Type: ansiblemod.Str, Default: "keep", Choices: []any{"keep", "remove"}},
			"max_canary_value": {Type: ansiblemod.Float},
		}},
		"group_weights":           {Type: ansiblemod.Dict},
		"confidence":              {Type: ansiblemod.Float, Default: defaultConfidence},
		"pass_score":              {Type: ansiblemod.Float, Default: defaultPassScore, LogSafe: true},
		"marginal_score":          {Type: ansiblemod.Float, Default: defaultMarginalScore},
		"fail_on_marginal":        {Type: ansiblemod.Bool, Default: true},
		"request_timeout_seconds": {Type: ansiblemod.Float, Default: defaultRequestTimeout.Seconds()},
		"request_retries":         {Type: ansiblemod.Int, Default: defaultRequestRetries},
		"name":                    {Type: ansiblemod.Str},
	}, prometheusBackend.Options())),
	SupportsCheckMode: true,
}

// Module is canary_judge as the dispatcher runs it.
var Module = ansiblemod.Program{Name: moduleName, Spec: spec, Handler: runModule, CLI: runCLI}

// optionName leaves option names as they are: the module's errors name options.
func optionName(option string) string { return option }

func runModule(m *ansiblemod.Module) (ansiblemod.Result, error) {
	cfg, err := moduleConfig(m)
	if err != nil {
		return nil, err
	}
	p, err := cfg.plan(optionName)
	if err != nil {
		return nil, err
	}
	obs, err := observe.Begin(m) // checks name, metrics_textfile, pushgateway_url
	if err != nil {
		return nil, err
	}
	defer obs.FinishModule(m) // publishes unless in check mode; a failure is a warning
	// The judge only reads, so check mode judges for real: "changed" is
	// always false and the answer is the same as without --check. Check
	// mode logs but publishes no metrics.
	j, err := p.run(context.Background(), optionName)
	if err != nil {
		return nil, err
	}
	observeJudgement(obs, p, j)
	res := ansiblemod.Result(p.resultFields(j))
	res["changed"] = false
	if j.failed {
		return res, errors.New(j.msg)
	}
	return res, nil
}

// run fetches the samples and judges them.
func (p plan) run(ctx context.Context, name namer) (judgement, error) {
	data := fetch(ctx, p.client, p.interval, p.specs)
	v, err := canary.Judge(p.opts, p.metrics, data)
	if err != nil {
		return judgement{}, judgeError(err, name)
	}
	return p.decide(v), nil
}

func moduleConfig(m *ansiblemod.Module) (config, error) {
	c := defaultConfig()
	c.prometheus = prometheusBackend.FromModule(m)
	c.requestTimeout, c.requestRetries = m.Float("request_timeout_seconds"), m.Int("request_retries")
	c.lookback, c.start, c.end, c.step = m.Str("lookback"), m.Str("start"), m.Str("end"), m.Str("step")
	c.confidence, c.passScore, c.marginalScore = m.Float("confidence"), m.Float("pass_score"), m.Float("marginal_score")
	c.lowerDefaultMarginal(m.Provided("marginal_score"))
	c.failOnMarginal = m.Bool("fail_on_marginal")
	for _, raw := range m.List("metrics") {
		d, _ := raw.(map[string]any)
		s := metricSpec{Name: str(d["name"]), CanaryQuery: str(d["canary_query"]), BaselineQuery: str(d["baseline_query"]),
			Direction: str(d["direction"]), NaNStrategy: str(d["nan_strategy"]), Group: str(d["group"]),
			Outliers: str(d["outliers"]), MaxCanaryValue: float(d["max_canary_value"])}
		s.Critical, _ = d["critical"].(bool)
		s.MustHaveData, _ = d["must_have_data"].(bool)
		if e, ok := d["effect_size"].(map[string]any); ok {
			s.EffectSize = effectSizeSpec{Measure: str(e["measure"]), AllowedIncrease: float(e["allowed_increase"]),
				AllowedDecrease: float(e["allowed_decrease"]), CriticalIncrease: float(e["critical_increase"]),
				CriticalDecrease: float(e["critical_decrease"])}
		}
		c.metrics = append(c.metrics, s)
	}
	var err error
	c.groupWeights, err = weights(m.Dict("group_weights"), optionName)
	return c, err
}

func str(v any) string { s, _ := v.(string); return s }

// float is nil for an option that was not given.
func float(v any) *float64 {
	if f, ok := v.(float64); ok {
		return &f
	}
	return nil
}
