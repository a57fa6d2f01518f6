// Package linear holds Ferry's built-in linear trainers: ridge regression
// (solved exactly) and logistic regression, binary or multinomial (full-batch
// gradient descent), over rows a native.Encoder has standardised. They
// produce a native.Linear, the model format's linear model.
package linear
