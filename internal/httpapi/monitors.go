package httpapi

import (
	"net/http"

	"github.com/ferry-ml/ferry"
	"github.com/ferry-ml/ferry/internal/monitor"
)

// The /api/v1 monitor resource routes: kind: Monitor, as ferry apply
// stores them, and their status.

func (s *Server) v1MonitorResourceRoutes() []v1Route {
	return []v1Route{
		v1JSON(s, "GET", "/monitors", "listMonitors", "List the monitors, by name.", http.StatusOK, withMonitor(s, s.v1ListMonitors)),
		v1JSON(s, "GET", "/monitors/{name}", "getMonitor", "Get a monitor as stored: its spec with defaults filled in, serial and time of its last change.", http.StatusOK, withMonitor(s, s.v1GetMonitor)),
		v1JSON(s, "PUT", "/monitors/{name}", "putMonitor", "Create or replace a monitor, audited; its endpoint must exist.", http.StatusOK, withMonitor(s, s.v1PutMonitor)),
		v1JSON(s, "DELETE", "/monitors/{name}", "deleteMonitor", "Delete a monitor, audited.", http.StatusOK, withMonitor(s, s.v1DeleteMonitor)),
		v1JSON(s, "GET", "/monitors/{name}/status", "getMonitorStatus", "A monitor at a glance: its signals, schedule, next run and the state of each alert.", http.StatusOK, withMonitor(s, s.v1MonitorStatus)),
	}
}

func errNoMonitor() error {
	return ferry.Errorf(ferry.ENOTFOUND, "This server does not monitor endpoints.")
}

// withMonitor answers ENOTFOUND when the server has no monitor service.
func withMonitor[Req, Resp any](s *Server, fn func(*http.Request, *Req) (Resp, error)) func(*http.Request, *Req) (Resp, error) {
	return func(r *http.Request, req *Req) (Resp, error) {
		if s.monitor == nil {
			var zero Resp
			return zero, errNoMonitor()
		}
		return fn(r, req)
	}
}

type v1MonitorList struct {
	Monitors []monitor.StoredMonitor `json:"monitors"`
}

type v1MonitorResponse struct {
	Monitor monitor.StoredMonitor `json:"monitor"`
}

type v1MonitorStatusResponse struct {
	Status monitor.Status `json:"status"`
}

func (s *Server) v1ListMonitors(r *http.Request, _ *v1NoInput) (v1MonitorList, error) {
	ms, err := s.monitor.StoredMonitors(r.Context())
	return v1MonitorList{Monitors: ms}, err
}

func (s *Server) v1GetMonitor(r *http.Request, _ *v1NoInput) (v1MonitorResponse, error) {
	m, err := s.monitor.GetMonitor(r.Context(), r.PathValue("name"))
	return v1MonitorResponse{Monitor: m}, err
}

func (s *Server) v1PutMonitor(r *http.Request, req *monitor.Monitor) (v1MonitorResponse, error) {
	if req.Name != r.PathValue("name") {
		return v1MonitorResponse{}, ferry.Errorf(ferry.EINVALID, "The body's name %q differs from the path's %q.", req.Name, r.PathValue("name"))
	}
	m, err := s.monitor.PutMonitor(r.Context(), *req)
	return v1MonitorResponse{Monitor: m}, err
}

func (s *Server) v1DeleteMonitor(r *http.Request, _ *v1NoInput) (empty, error) {
	return empty{}, s.monitor.DeleteMonitor(r.Context(), r.PathValue("name"))
}

func (s *Server) v1MonitorStatus(r *http.Request, _ *v1NoInput) (v1MonitorStatusResponse, error) {
	st, err := s.monitor.Status(r.Context(), r.PathValue("name"))
	return v1MonitorStatusResponse{Status: st}, err
}
