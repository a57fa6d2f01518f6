package tracking

// ViewType selects runs or experiments by lifecycle stage.
type ViewType string

// View types, as MLflow names them.
const (
	ViewActiveOnly  ViewType = "ACTIVE_ONLY"
	ViewDeletedOnly ViewType = "DELETED_ONLY"
	ViewAll         ViewType = "ALL"
)

// Entity is what a filter or order-by term refers to.
type Entity string

// Entities of the search grammar.
const (
	EntityMetric    Entity = "metric"
	EntityParam     Entity = "param"
	EntityTag       Entity = "tag"
	EntityAttribute Entity = "attribute"
	EntityDataset   Entity = "dataset"
)

// Comparison is one term of a filter: Entity.Key Op Value.
//
// Op is one of "=", "!=", ">", ">=", "<", "<=", "LIKE", "ILIKE", "IN", "NOT IN",
// "IS NULL", "IS NOT NULL". For IN and NOT IN the operands are in Values; for IS
// NULL and IS NOT NULL there is none; otherwise the operand is Str, or Num when
// IsNum is set (metrics and numeric attributes).
type Comparison struct {
	Entity Entity
	Key    string
	Op     string
	Str    string
	Num    float64
	IsNum  bool
	Values []string
}

// Filter is a conjunction of comparisons; an empty filter matches everything.
type Filter []Comparison

// OrderBy is one term of an order_by list.
type OrderBy struct {
	Entity    Entity
	Key       string
	Ascending bool
}

// RunQuery selects runs. MaxResults is at most MaxSearchResults; PageToken is
// the NextPageToken of a previous page with the same query, or "".
type RunQuery struct {
	ExperimentIDs []string
	Filter        Filter
	ViewType      ViewType
	OrderBy       []OrderBy
	MaxResults    int
	PageToken     string
}

// ExperimentQuery selects experiments. Filter terms use EntityAttribute (name,
// creation_time, last_update_time, experiment_id) and EntityTag.
type ExperimentQuery struct {
	Filter     Filter
	ViewType   ViewType
	OrderBy    []OrderBy
	MaxResults int
	PageToken  string
}

// Search limits, as MLflow sets them.
const (
	DefaultRunResults        = 1000
	MaxSearchResults         = 50000
	DefaultExperimentResults = 1000
)
